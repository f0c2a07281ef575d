"""template.yml: a ROS template with Funcraft's transform (deploy with ROS, or `fun deploy --use-ros`)."""

from __future__ import annotations

from typing import Any

from . import spec
from .spec import HANDLER, QUALIFIER, RUNTIME, arn_path, eventbridge_config, gateway_path, path_parameters


def value(placeholder: Any) -> Any:
    """A spec value in ROS: placeholders become parameters (`Ref`) and expressions (`Fn::Sub`, `Fn::If`)."""
    if not isinstance(placeholder, str) or "{" not in placeholder:
        return placeholder
    if placeholder == "{ots_instance}":
        return {"Ref": "TablestoreInstance"}
    if placeholder == "{ots_endpoint}":
        return {"Fn::If": ["TablestoreEndpointGiven", {"Ref": "TablestoreEndpoint"},
                           {"Fn::Sub": spec.ots_endpoint_default("${TablestoreInstance}", "${ALIYUN::Region}")}]}
    if placeholder == "{grace}":
        return {"Ref": "DeadlineGraceSeconds"}
    if placeholder.startswith("{secret:"):
        return {"Ref": parameter_name(placeholder[len("{secret:"):-1])}
    raise ValueError(placeholder)


def parameter_name(env_name: str) -> str:
    return "".join(word.capitalize() for word in env_name.lower().split("_"))


def template(model: dict[str, Any]) -> dict[str, Any]:
    service = model["service"]
    parameters: dict[str, Any] = {
        "VpcId": {"Type": "String", "Description": "VPC of the SQL Server instances"},
        "VSwitchIds": {"Type": "CommaDelimitedList", "Description": "vSwitches the functions attach to"},
        "SecurityGroupId": {"Type": "String",
                            "Description": "security group of the functions' ENIs (SQL Server must allow it)"},
        "RoleArn": {"Type": "String", "Description": "RAM role of the service (deploy/ram-policy.json)"},
        "LayerArn": {"Type": "String", "Description": "the layer built by scripts/build-layer"},
        "LogProject": {"Type": "String", "Description": "SLS project for the function logs"},
        "LogStore": {"Type": "String", "Default": "precheck-functions"},
        "TablestoreInstance": {"Type": "String", "Default": spec.OTS_INSTANCE_DEFAULT},
        "TablestoreEndpoint": {"Type": "String", "Default": "",
                               "Description": "empty: the instance's VPC endpoint in this region"},
        "RunHistoryTtlSeconds": {"Type": "Number", "Default": spec.RUN_HISTORY_TTL_DAYS * 86400,
                                 "Description": f"how long run history is kept ({spec.RUN_HISTORY_TTL_DAYS} days)"},
        "DeadlineGraceSeconds": {"Type": "String", "Default": "30",
                                 "Description": "time beyond an item's limit for queueing, cold start, delivery"},
        "RecheckCron": {"Type": "String", "Default": spec.RECHECK_CRON},
    }
    for name in spec.SQL_PASSWORD_ENV:
        parameters[parameter_name(name)] = {"Type": "String", "NoEcho": True,
                                            "Description": f"value of {name} on the check functions"}
    service_props: dict[str, Any] = {
        "Description": "SQL Server backup precheck",
        "Role": {"Ref": "RoleArn"},
        "InternetAccess": True,
        "VpcConfig": {"VpcId": {"Ref": "VpcId"}, "VSwitchIds": {"Ref": "VSwitchIds"},
                      "SecurityGroupId": {"Ref": "SecurityGroupId"}},
        "LogConfig": {"Project": {"Ref": "LogProject"}, "Logstore": {"Ref": "LogStore"}},
    }
    service_resource: dict[str, Any] = {"Type": "Aliyun::Serverless::Service", "Properties": service_props}
    resources: dict[str, Any] = {service: service_resource}
    for function in model["functions"]:
        props: dict[str, Any] = {
            "Description": function["description"],
            "Handler": HANDLER,
            "Runtime": RUNTIME,
            "CodeUri": f"functions/{function['name']}",
            "Layers": [{"Ref": "LayerArn"}],
            "Timeout": function["timeout"],
            "MemorySize": function["memory"],
            "EnvironmentVariables": {key: value(setting) for key, setting in function["env"].items()},
        }
        config = function["async"]
        if config is not None:
            async_props: dict[str, Any] = {}
            if config["destination"]:
                arn = {"Fn::Sub": "acs:fc:${ALIYUN::Region}:${ALIYUN::AccountId}:" + arn_path(config["destination"])}
                async_props["Destination"] = {"OnSuccess": arn, "OnFailure": arn}
            async_props.update({"MaxAsyncRetryAttempts": config["retries"],
                                "MaxAsyncEventAgeInSeconds": config["max_age"],
                                "StatefulInvocation": config["stateful"]})
            props["AsyncConfiguration"] = async_props
        events: dict[str, Any] = {}
        for trigger in function["triggers"]:
            if trigger["type"] == "timer":
                events[trigger["name"]] = {"Type": "Timer", "Properties": {
                    "CronExpression": {"Ref": "RecheckCron"}, "Enable": True, "Payload": trigger["payload"]}}
            elif trigger["type"] == "eventbridge":  # not in Funcraft's transform: a ROS resource below
                resources[f"{camel(function['name'])}EventBridgeTrigger"] = {
                    "Type": "ALIYUN::FC::Trigger",
                    "DependsOn": [service],  # the transform's function resource ids are its own business
                    "Properties": {
                        "ServiceName": service, "FunctionName": function["name"], "TriggerName": trigger["name"],
                        "TriggerType": "eventbridge", "Qualifier": QUALIFIER,
                        "TriggerConfig": eventbridge_config(trigger)}}
        if events:
            props["Events"] = events
        service_resource[function["name"]] = {"Type": "Aliyun::Serverless::Function", "Properties": props}
    resources["PrecheckApi"] = {"Type": "Aliyun::Serverless::Api", "Properties": {
        "StageName": "RELEASE", "DefinitionBody": swagger(model)}}
    resources["PrecheckTablestore"] = {"Type": "ALIYUN::OTS::Instance", "Properties": {
        "InstanceName": {"Ref": "TablestoreInstance"}, "ClusterType": "HYBRID",
        "Description": "SQL Server backup precheck results"}}
    for table, keys in spec.TABLES.items():
        ttl: Any = -1
        if table == spec.RUN_HISTORY_TABLE:
            ttl = {"Ref": "RunHistoryTtlSeconds"}
        elif table == "precheck_events":
            ttl = spec.EVENTS_TTL_DAYS * 86400
        resources[camel(table) + "Table"] = {"Type": "ALIYUN::OTS::Table", "DependsOn": ["PrecheckTablestore"],
                                             "Properties": {
            "InstanceName": {"Ref": "TablestoreInstance"}, "TableName": table,
            "PrimaryKey": [{"Name": name, "Type": kind} for name, kind in keys],
            "TimeToLive": ttl, "MaxVersions": 1}}
    return {
        "ROSTemplateFormatVersion": "2015-09-01",
        "Transform": "Aliyun::Serverless-2018-04-03",
        "Description": "SQL Server backup precheck on Function Compute 2.0",
        "Parameters": parameters,
        "Conditions": {"TablestoreEndpointGiven": {"Fn::Not": {"Fn::Equals": ["", {"Ref": "TablestoreEndpoint"}]}}},
        "Resources": resources,
    }


def camel(name: str) -> str:
    return "".join(word.capitalize() for word in name.replace("-", "_").split("_"))


def swagger(model: dict[str, Any]) -> dict[str, Any]:
    """The API's Swagger body with API Gateway's extensions: one operation per route, APP authentication."""
    body: dict[str, Any] = {}
    for route in model["routes"]:
        operation: dict[str, Any] = {
            "x-aliyun-apigateway-api-name": route["api_name"],
            "x-aliyun-apigateway-auth-type": "APP",
            "x-aliyun-apigateway-visibility": "PRIVATE",
            "x-aliyun-apigateway-request-config": {"requestProtocol": "HTTPS", "requestMode": "PASSTHROUGH",
                                                   **({"bodyFormat": "STREAM"} if route["method"] == "POST" else {})},
            "x-aliyun-apigateway-fc": {
                "arn": {"Fn::Sub": "acs:fc:${ALIYUN::Region}:${ALIYUN::AccountId}:" + arn_path(route["function"])},
                "timeout": 10000},
        }
        parameters = path_parameters(route["path"])
        if parameters:
            operation["x-aliyun-apigateway-request-parameters"] = [
                {"apiParameterName": name, "location": "Path", "parameterType": "String", "required": "REQUIRED"}
                for name in parameters]
        body.setdefault(gateway_path(route["path"]), {})[route["method"].lower()] = operation
    return body
