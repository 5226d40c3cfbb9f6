"""SpotTrainingPool: a spot group plus everything that turns an interruption into a checkpoint, as one unit."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.naming import CHECKPOINT_HOOK

from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs, LifecycleHook

# EventBridge detail types for the two signals AWS sends before taking a spot instance away.
SIGNALS = {
    "interruption": "EC2 Spot Instance Interruption Warning",
    "rebalance": "EC2 Instance Rebalance Recommendation",
}


@dataclass
class SpotTrainingPoolArgs:
    group: GpuInstanceGroupArgs  # capacity lists spot; the pool adds the hook below
    heartbeat_seconds: int
    tags: dict[str, str]


class SpotTrainingPool(pulumi.ComponentResource):
    """Spot nodes (price-capacity-optimized, capacity rebalancing, optional on-demand base, scale to zero by
    default) with a termination lifecycle hook long enough to checkpoint, and the interruption and rebalance
    signals routed by EventBridge into an encrypted SQS queue for schedulers and dashboards to consume.

    The node side (the watcher that checkpoints and completes the hook) arrives in the group's user data.
    """

    auto_scaling_group_name: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SpotTrainingPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:SpotTrainingPool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hook = LifecycleHook(CHECKPOINT_HOOK, args.heartbeat_seconds)
        group_args = GpuInstanceGroupArgs(**{**args.group.__dict__, "lifecycle_hooks": [hook]})
        group = GpuInstanceGroup(naming.spot_nodes(name), group_args, opts=child)

        queue_name = naming.signal_queue(name)
        queue = aws.sqs.Queue(
            queue_name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=86400,
            tags={**args.tags, "Name": queue_name},
            opts=child,
        )
        rules = []
        for signal, detail_type in SIGNALS.items():
            rule_name = naming.signal_rule(name, signal)
            rule = aws.cloudwatch.EventRule(
                rule_name,
                description=f"{name}: {detail_type}",
                event_pattern=json.dumps({"source": ["aws.ec2"], "detail-type": [detail_type]}),
                tags={**args.tags, "Name": rule_name},
                opts=child,
            )
            aws.cloudwatch.EventTarget(rule_name, rule=rule.name, arn=queue.arn, opts=child)
            rules.append(rule)
        aws.sqs.QueuePolicy(
            queue_name,
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *[r.arn for r in rules]).apply(lambda arns: _events_may_send(arns[0], arns[1:])),
            opts=child,
        )
        self.auto_scaling_group_name = group.auto_scaling_group_name
        self.queue_url, self.queue_arn = queue.url, queue.arn
        self.register_outputs(
            {"autoScalingGroupName": self.auto_scaling_group_name, "queueUrl": self.queue_url, "queueArn": self.queue_arn,
             "lifecycleHook": CHECKPOINT_HOOK}
        )


def _events_may_send(queue_arn: str, rule_arns: list[str]) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeRules",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
        }],
    })
