"""The deploy descriptors (template.yml, s.yaml, deploy/ram-policy.json) agree with each other, with functions/
and with precheck.layout, and are what deploy.descriptors (scripts/descriptors.py) generates."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import descriptors
from precheck import layout
from precheck.local import load_handler
from precheck.models import MAX_ITEM_TIMEOUT_S
from tests.helpers import load_event

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load((ROOT / "template.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def devs() -> dict:
    return yaml.safe_load((ROOT / "s.yaml").read_text(encoding="utf-8"))


def _arn_function(arn) -> str:
    text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
    return text.rsplit("/functions/", 1)[1].strip("/")


def template_functions(template: dict) -> dict[str, dict]:
    """Each function of template.yml in a neutral shape."""
    service = template["Resources"][layout.SERVICE]
    out = {}
    for name, resource in service.items():
        if not isinstance(resource, dict) or resource.get("Type") != "Aliyun::Serverless::Function":
            continue
        props = resource["Properties"]
        config = props.get("AsyncConfiguration") or {}
        destination = config.get("Destination") or {}
        triggers = {trigger: event["Type"].lower() for trigger, event in (props.get("Events") or {}).items()}
        for resource_value in template["Resources"].values():
            if resource_value.get("Type") == "ALIYUN::FC::Trigger" and \
                    resource_value["Properties"]["FunctionName"] == name:
                triggers[resource_value["Properties"]["TriggerName"]] = resource_value["Properties"]["TriggerType"]
        out[name] = {
            "handler": props["Handler"], "runtime": props["Runtime"], "code": props["CodeUri"].strip("./"),
            "timeout": props["Timeout"], "memory": props["MemorySize"], "env": sorted(props["EnvironmentVariables"]),
            "on_success": _arn_function(destination["OnSuccess"]) if destination else None,
            "on_failure": _arn_function(destination["OnFailure"]) if destination else None,
            "retries": config.get("MaxAsyncRetryAttempts"), "stateful": config.get("StatefulInvocation", False),
            "max_age": config.get("MaxAsyncEventAgeInSeconds"), "triggers": triggers,
        }
    return out


def devs_functions(devs: dict) -> dict[str, dict]:
    """Each function of s.yaml in the same neutral shape."""
    out = {}
    for component in devs["services"].values():
        if component["component"] != "fc":
            continue
        props = component["props"]["function"]
        config = props.get("asyncConfiguration") or {}
        destination = config.get("destination") or {}
        out[props["name"]] = {
            "handler": props["handler"], "runtime": props["runtime"], "code": props["codeUri"].strip("./"),
            "timeout": props["timeout"], "memory": props["memorySize"], "env": sorted(props["environmentVariables"]),
            "on_success": _arn_function(destination["onSuccess"]) if destination else None,
            "on_failure": _arn_function(destination["onFailure"]) if destination else None,
            "retries": config.get("maxAsyncRetryAttempts"), "stateful": config.get("statefulInvocation", False),
            "max_age": config.get("maxAsyncEventAgeInSeconds"),
            "triggers": {t["name"]: t["type"] for t in component["props"].get("triggers", [])},
        }
    return out


def test_generated_files_are_up_to_date(capsys):
    """`scripts/descriptors.py --check` passes: the committed descriptors are exactly what the generator writes."""
    assert descriptors.main(["--check"]) == 0, capsys.readouterr().err


def test_the_script_still_checks_from_anywhere(tmp_path):
    """`python scripts/descriptors.py --check` (what `make descriptors` and CI run) works from any directory."""
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "descriptors.py"), "--check"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_both_descriptors_describe_the_same_functions(template, devs):
    """template.yml and s.yaml agree on every function's code, handler, limits, environment and async settings."""
    assert template_functions(template) == devs_functions(devs)


# --- values: what each function gets, in one form for both descriptors ---------------------------------------
#
# Only the formats' syntax is normalised: ROS `Ref`/`Fn::Sub`/`Fn::If` and Serverless Devs `${vars.x}`,
# `${env.X}` and `${config.AccountID}` are evaluated with the defaults each descriptor carries; the region and
# the account (ROS pseudo parameters, the Devs region variable and config) become `<region>` and `<account>`;
# values a deployer must supply (template parameters without a default, Devs variables of the same name,
# `${env.NAME}` secrets) become `<name>`; keys are camelCase. Every value is then compared as it is.

REFERENCE = re.compile(r"\$\{([^}]+)\}")


def _supplied(name: str) -> str:
    return "<" + name.replace("_", "").lower() + ">"


def _inputs(template: dict) -> set[str]:
    """The values a deployer supplies: the template's parameters without a default."""
    return {name.lower() for name, parameter in template["Parameters"].items() if "Default" not in parameter}


def _ros_ref(name: str, template: dict):
    if name == "ALIYUN::Region":
        return "<region>"
    if name == "ALIYUN::AccountId":
        return "<account>"
    parameter = template["Parameters"][name]
    return parameter["Default"] if "Default" in parameter else _supplied(name)


def _ros(value, template: dict):
    """A template value evaluated with the parameters' defaults."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
        function, argument = next(iter(value.items()))
        if function == "Ref":
            return _ros_ref(argument, template)
        if function == "Fn::Sub":
            return REFERENCE.sub(lambda found: str(_ros_ref(found[1], template)), argument)
        if function == "Fn::If":
            condition, then, otherwise = argument
            return _ros(then if _ros(template["Conditions"][condition], template) else otherwise, template)
        if function == "Fn::Not":
            return not _ros(argument[0] if isinstance(argument, list) else argument, template)
        if function == "Fn::Equals":
            return _ros(argument[0], template) == _ros(argument[1], template)
        raise AssertionError(f"no normal form for {function}")
    if isinstance(value, dict):
        return {key: _ros(item, template) for key, item in value.items()}
    if isinstance(value, list):
        return [_ros(item, template) for item in value]
    return value


def _devs_ref(expression: str, devs: dict, inputs: set[str]) -> str:
    if expression in ("vars.region", "config.AccountID"):
        return "<region>" if expression == "vars.region" else "<account>"
    scope, _, name = expression.partition(".")
    if scope == "env" or (scope == "vars" and name.lower() in inputs):
        return _supplied(name)
    if scope == "vars":
        return str(_devs(devs["vars"][name], devs, inputs))
    raise AssertionError(f"no normal form for ${{{expression}}}")


def _devs(value, devs: dict, inputs: set[str]):
    """An s.yaml value with its variables evaluated."""
    if isinstance(value, str):
        return REFERENCE.sub(lambda found: _devs_ref(found[1], devs, inputs), value)
    if isinstance(value, dict):
        return {key: _devs(item, devs, inputs) for key, item in value.items()}
    if isinstance(value, list):
        return [_devs(item, devs, inputs) for item in value]
    return value


def _camel(value):
    """Keys in camelCase (ROS writes `MaxAsyncRetryAttempts`, Serverless Devs `maxAsyncRetryAttempts`)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    return value


def template_values(template: dict) -> dict[str, dict]:
    """Each function of template.yml with its values, evaluated."""
    out = {}
    for name, resource in template["Resources"][layout.SERVICE].items():
        if not isinstance(resource, dict) or resource.get("Type") != "Aliyun::Serverless::Function":
            continue
        props = _ros(resource["Properties"], template)
        triggers = {}
        for trigger, event in (props.get("Events") or {}).items():
            properties = dict(event["Properties"])
            qualifier = properties.pop("Qualifier", "LATEST")  # a Funcraft event without one fires LATEST
            triggers[trigger] = {"type": event["Type"].lower(), "qualifier": qualifier, "config": _camel(properties)}
        for other in template["Resources"].values():
            if other.get("Type") == "ALIYUN::FC::Trigger" and other["Properties"]["FunctionName"] == name:
                trigger = _ros(other["Properties"], template)
                triggers[trigger["TriggerName"]] = {"type": trigger["TriggerType"], "qualifier": trigger["Qualifier"],
                                                    "config": trigger["TriggerConfig"]}
        out[name] = {
            "description": props["Description"], "handler": props["Handler"], "runtime": props["Runtime"],
            "code": props["CodeUri"], "memory": props["MemorySize"], "timeout": props["Timeout"],
            "layers": props.get("Layers", []), "env": props.get("EnvironmentVariables", {}),
            "async": _camel(props.get("AsyncConfiguration")), "triggers": triggers,
        }
    return out


def devs_values(devs: dict, inputs: set[str]) -> dict[str, dict]:
    """Each function of s.yaml with its values, evaluated, in the same form."""
    out = {}
    for component in devs["services"].values():
        if component["component"] != "fc":
            continue
        props = _devs(component["props"]["function"], devs, inputs)
        triggers = {trigger["name"]: {"type": trigger["type"], "qualifier": trigger.get("qualifier", "LATEST"),
                                      "config": trigger["config"]}
                    for trigger in _devs(component["props"].get("triggers", []), devs, inputs)}
        out[props["name"]] = {
            "description": props["description"], "handler": props["handler"], "runtime": props["runtime"],
            "code": props["codeUri"].removeprefix("./"), "memory": props["memorySize"], "timeout": props["timeout"],
            "layers": props.get("layers", []), "env": props.get("environmentVariables", {}),
            "async": props.get("asyncConfiguration"), "triggers": triggers,
        }
    return out


def test_both_descriptors_give_every_function_the_same_values(template, devs):
    """Per function, template.yml and s.yaml set the same environment values (the Tablestore endpoint's default
    included), memory, timeout, runtime, handler, layers, async destinations and triggers."""
    from_template, from_devs = template_values(template), devs_values(devs, _inputs(template))
    assert set(from_template) == set(from_devs) == set(layout.all_functions())
    for name, function in from_template.items():
        for field, value in function.items():
            assert value == from_devs[name][field], f"{name}: {field} differs between template.yml and s.yaml"
    endpoints = {function["env"]["PRECHECK_OTS_ENDPOINT"] for function in from_template.values()}
    assert endpoints == {"https://precheck.<region>.vpc.tablestore.aliyuncs.com"}  # the instance's VPC endpoint


def test_the_value_comparison_sees_a_changed_value(template, devs):
    """The comparison above is not blind: one changed default in s.yaml is a difference."""
    changed = json.loads(json.dumps(devs))
    changed["vars"]["deadlineGraceSeconds"] = "31"
    inputs = _inputs(template)
    assert devs_values(changed, inputs) != devs_values(devs, inputs)
    assert template_values(template) != devs_values(changed, inputs)


def test_functions_are_those_of_the_folder_and_the_layout(template):
    """Every folder in functions/ is deployed, every deployed function has a folder, as precheck.layout lists."""
    folders = {path.parent.name for path in (ROOT / "functions").glob("*/index.py")}
    assert set(template_functions(template)) == folders == set(layout.all_functions())


def test_every_handler_is_python310_and_imports(template):
    """Each function runs index.handler on python3.10 from functions/<name>, and that handler loads and is callable."""
    for name, function in template_functions(template).items():
        assert (function["handler"], function["runtime"], function["code"]) == (
            "index.handler", "python3.10", f"functions/{name}")
        assert callable(load_handler(name))


def test_check_functions_report_to_collect_outcome_on_success_and_failure(template):
    """Each check function is stateful, retried a bounded number of times, with both destinations at collect_outcome."""
    functions = template_functions(template)
    for name, function in functions.items():
        if name in layout.check_functions():
            assert function["on_success"] == function["on_failure"] == layout.COLLECT
            assert function["stateful"] is True
            assert 0 <= function["retries"] <= 3 and 60 <= function["max_age"] <= 3600
        else:
            assert function["on_success"] is None and function["on_failure"] is None
    assert functions[layout.START]["stateful"] is True  # the timer's pages use stateful ids too


def test_time_and_memory_limits(template):
    """Check functions outlive the longest item time limit; memory sizes are multiples of 64 MB."""
    for name, function in template_functions(template).items():
        assert function["memory"] % 64 == 0 and 128 <= function["memory"] <= 3072
        if name in layout.check_functions():
            assert function["timeout"] >= MAX_ITEM_TIMEOUT_S + 15
    assert template_functions(template)[layout.START]["timeout"] >= 120


def test_start_precheck_has_the_nightly_timer_and_the_registration_trigger(template, devs):
    """start_precheck alone has triggers: the timer of the sample event and an EventBridge rule matching the sample."""
    for functions in (template_functions(template), devs_functions(devs)):
        triggers = {name: f["triggers"] for name, f in functions.items() if f["triggers"]}
        assert list(triggers) == [layout.START]
        assert triggers[layout.START] == {load_event("timer_recheck")["triggerName"]: "timer",
                                          "instance-registered": "eventbridge"}
    sample = load_event("eventbridge_instance_registered")
    patterns = [json.loads(t["config"]["eventRuleFilterPattern"])
                for t in devs["services"]["start-precheck"]["props"]["triggers"] if t["type"] == "eventbridge"]
    patterns += [json.loads(r["Properties"]["TriggerConfig"]["eventRuleFilterPattern"])
                 for r in template["Resources"].values() if r.get("Type") == "ALIYUN::FC::Trigger"]
    assert patterns and all(p == {"source": [sample["source"]], "type": [sample["type"]]} for p in patterns)


def _route(path: str) -> str:
    return re.sub(r"\[([^\]]+)\]", r"{\1}", path)


def test_api_routes_are_the_layout_routes_with_app_authentication(template, devs):
    """Both API Gateway definitions expose exactly precheck.layout.ROUTES, each requiring APP authentication."""
    swagger = template["Resources"]["PrecheckApi"]["Properties"]["DefinitionBody"]
    from_template = sorted((method.upper(), _route(path), _arn_function(op["x-aliyun-apigateway-fc"]["arn"]))
                           for path, ops in swagger.items() for method, op in ops.items())
    assert all(op["x-aliyun-apigateway-auth-type"] == "APP" for ops in swagger.values() for op in ops.values())
    apis = devs["services"]["api"]["props"]["apis"]
    from_devs = sorted((api["requestConfig"]["requestHttpMethod"], _route(api["requestConfig"]["requestPath"]),
                        api["serviceConfig"]["functionComputeConfig"]["functionName"]) for api in apis)
    assert all(api["authType"] == "APP" for api in apis)
    assert from_template == from_devs == sorted((route.method, route.path, route.function) for route in layout.ROUTES)


def test_environment_selects_tablestore_everywhere_and_fc_invoker_only_in_start_precheck(devs):
    """Every function stores in Tablestore; only start_precheck invokes (imports fc2); check functions find FreeTDS."""
    for component in devs["services"].values():
        if component["component"] != "fc":
            continue
        name, env = component["props"]["function"]["name"], component["props"]["function"]["environmentVariables"]
        assert env["PRECHECK_STORE"].startswith("tablestore:")
        assert {"PRECHECK_OTS_INSTANCE", "PRECHECK_OTS_ENDPOINT", "PRECHECK_DEADLINE_GRACE_S"} <= set(env)
        assert (env.get("PRECHECK_INVOKER") == "fc") == (name == layout.START)
        if name in layout.check_functions():
            assert env["ODBCSYSINI"] == "/opt/etc" and env["LD_LIBRARY_PATH"].startswith("/opt/lib")
        assert all(isinstance(value, str) for value in env.values())


def test_service_is_in_the_vpc_with_parameters(template, devs):
    """The service reaches the instances' private network through parameters, never hard-coded ids."""
    vpc = template["Resources"][layout.SERVICE]["Properties"]["VpcConfig"]
    assert vpc == {"VpcId": {"Ref": "VpcId"}, "VSwitchIds": {"Ref": "VSwitchIds"},
                   "SecurityGroupId": {"Ref": "SecurityGroupId"}}
    assert set(devs["vars"]["service"]["vpcConfig"]) == {"vpcId", "vswitchIds", "securityGroupId"}
    assert all(c["props"]["service"] == "${vars.service}" for c in devs["services"].values() if c["component"] == "fc")


def test_tables_and_run_history_ttl(template):
    """The template creates the store's three tables; run history expires after a parameter, 90 days by default."""
    tables = {r["Properties"]["TableName"]: r["Properties"] for r in template["Resources"].values()
              if r.get("Type") == "ALIYUN::OTS::Table"}
    assert set(tables) == {"precheck_instances", "precheck_runs", "precheck_events"}
    assert tables["precheck_runs"]["TimeToLive"] == {"Ref": "RunHistoryTtlSeconds"}
    assert template["Parameters"]["RunHistoryTtlSeconds"]["Default"] == 90 * 86400
    assert tables["precheck_instances"]["TimeToLive"] == -1


def test_ram_policy_is_least_privilege():
    """The role may invoke only this service's fan-out targets, touch only the project's tables, and no wildcards."""
    policy = json.loads((ROOT / "deploy" / "ram-policy.json").read_text(encoding="utf-8"))
    actions = [action for statement in policy["Statement"] for action in statement["Action"]]
    assert not any(action == "*" or action.endswith(":*") for action in actions)
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["fc:InvokeFunction"])
    targets = {resource.rsplit("/functions/", 1)[1] for resource in invoke["Resource"]}
    assert targets == {layout.START, layout.COLLECT, *layout.check_functions()}
    assert all(f":services/{layout.SERVICE}" in resource for resource in invoke["Resource"])
    ots = next(s for s in policy["Statement"] if any(a.startswith("ots:") for a in s["Action"]))
    assert {r.rsplit("/table/", 1)[1] for r in ots["Resource"]} == {"precheck_instances", "precheck_runs",
                                                                   "precheck_events"}
    assert not any("Create" in a or "Delete" in a for a in ots["Action"])
    trust = json.loads((ROOT / "deploy" / "trust-policy.json").read_text(encoding="utf-8"))
    assert trust["Statement"][0]["Principal"] == {"Service": ["fc.aliyuncs.com"]}
