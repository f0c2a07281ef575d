"""Extract ROS resource specifications from the ROS CDK's generated JavaScript into a small JSON fixture.

    npm pack @alicloud/ros-cdk-ots@1.11.0 @alicloud/ros-cdk-eventbridge@1.15.0 @alicloud/ros-cdk-fc@1.9.0 \
        @alicloud/ros-cdk-ram@1.12.0
    python scripts/ros_resource_specs.py alicloud-ros-cdk-*.tgz > tests/fixtures/ros_resource_specs.json

The packages (Apache-2.0, https://github.com/aliyun/Resource-Orchestration-Service-Cloud-Development-Kit) are
generated from ROS's own resource type specifications: `ros<Name>PropsToRosTemplate` maps each property to
its ROS name, `Ros<Name>PropsValidator` marks the required ones. The fixture keeps, for the resource types
template.yml uses, each property's ROS name, whether it is required, and the same for nested properties.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
from typing import Any

USED = {"ALIYUN::OTS::Instance", "ALIYUN::OTS::Table", "ALIYUN::OTS::VpcBinder", "ALIYUN::EventBridge::Rule",
        "ALIYUN::FC::Function", "ALIYUN::RAM::Role"}

TYPE = re.compile(r'^(Ros\w+)\.ROS_RESOURCE_TYPE_NAME = "([^"]+)";', re.M)
MAPPER = re.compile(r"^function (ros\w+ToRosTemplate)\(properties[^)]*\) \{(.*?)^\}", re.M | re.S)
ENTRY = re.compile(r"'(\w+)': (.*?)\(properties\.(\w+)\),")
VALIDATOR = re.compile(r"^function (Ros\w+Validator)\(properties\) \{(.*?)^\}", re.M | re.S)
REQUIRED = re.compile(r"propertyValidator\('(\w+)', ros\.requiredValidator\)")


def _spec(mapper: str, mappers: dict[str, str], validators: dict[str, str], validator: str) -> dict[str, Any]:
    required = set(REQUIRED.findall(validators.get(validator, "")))
    out: dict[str, Any] = {}
    for ros_name, how, js_name in ENTRY.findall(mappers[mapper]):
        entry: dict[str, Any] = {"required": js_name in required}
        nested = re.search(r"(ros\w+PropertyToRosTemplate)", how)
        if nested and nested.group(1) in mappers:
            # rosRuleTargetsPropertyToRosTemplate is checked by RosRule_TargetsPropertyValidator
            key = next((name for name in validators if name.replace("_", "").lower() ==
                        nested.group(1).replace("ToRosTemplate", "Validator").lower()), "")
            entry["properties"] = _spec(nested.group(1), mappers, validators, key)
        out[ros_name] = entry
    return out


def extract(source: str) -> dict[str, Any]:
    mappers = {name: body for name, body in MAPPER.findall(source)}
    validators = {name: body for name, body in VALIDATOR.findall(source)}
    specs = {}
    for cls, type_name in TYPE.findall(source):
        if type_name in USED:
            name = cls[3:]
            specs[type_name] = _spec(f"ros{name}PropsToRosTemplate", mappers, validators, f"Ros{name}PropsValidator")
    return specs


def main(paths: list[str]) -> int:
    specs: dict[str, Any] = {}
    sources = []
    for path in paths:
        with tarfile.open(path) as archive:
            meta = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
            sources.append(f"{meta['name']}@{meta['version']} ({meta['license']})")
            for member in archive.getmembers():
                if member.name.endswith(".generated.js"):
                    specs.update(extract(archive.extractfile(member).read().decode()))  # type: ignore[union-attr]
    json.dump({"source": sources, "generated_by": "scripts/ros_resource_specs.py", "resource_types": specs},
              sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
