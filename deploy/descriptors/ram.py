"""deploy/ram-policy.json and deploy/trust-policy.json: the service role's permissions, least privilege."""

from __future__ import annotations

from typing import Any

from precheck import layout

from . import spec


def ram_policy(model: dict[str, Any]) -> dict[str, Any]:
    """Least privilege for the service role; `*` stands for region and account (the role is per account)."""
    invoked = [layout.START, layout.COLLECT, *layout.check_functions()]  # collect_outcome: async destination
    fc_resources = []
    for function in invoked:
        fc_resources.append(f"acs:fc:*:*:services/{layout.SERVICE}/functions/{function}")
        fc_resources.append(f"acs:fc:*:*:services/{layout.SERVICE}.*/functions/{function}")
    ots_resources = [f"acs:ots:*:*:instance/*/table/{table}" for table in spec.TABLES]
    return {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": ["fc:InvokeFunction"], "Resource": fc_resources},
            {"Effect": "Allow",
             "Action": ["ots:GetRow", "ots:PutRow", "ots:UpdateRow", "ots:BatchGetRow", "ots:BatchWriteRow",
                        "ots:GetRange"],
             "Resource": ots_resources},
            {"Effect": "Allow", "Action": ["oss:GetBucketInfo"], "Resource": ["acs:oss:*:*:*"]},
            {"Effect": "Allow", "Action": ["log:PostLogStoreLogs"],
             "Resource": ["acs:log:*:*:project/*/logstore/precheck-functions"]},
            {"Effect": "Allow",
             "Action": ["vpc:DescribeVSwitchAttributes", "ecs:CreateNetworkInterface",
                        "ecs:DeleteNetworkInterface", "ecs:DescribeNetworkInterfaces",
                        "ecs:CreateNetworkInterfacePermission", "ecs:DescribeNetworkInterfacePermissions",
                        "ecs:DeleteNetworkInterfacePermission"],
             "Resource": ["*"]},
        ],
    }


TRUST_POLICY = {
    "Version": "1",
    "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}],
}
