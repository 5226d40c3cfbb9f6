"""Changes reach running nodes only when chosen: training pools keep their nodes, inference pools roll, and the
preview says which is which."""

from __future__ import annotations

import pytest

from .helpers import of_type, pool, preview_spec, spec_with
from .test_combinations import _gcp_preview

ASG = "aws:autoscaling/group:Group"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"


def _groups(result):
    return {next(t["value"] for t in g.inputs["tags"] if t["key"] == "gpucluster:pool"): g for g in of_type(result, ASG)}


@pytest.fixture(scope="module")
def aws():
    return preview_spec(spec_with(zones=["us-east-1a", "us-east-1c"], pools=[
        pool(name="train"),
        pool(name="serve", instanceType="g6e.12xlarge", purpose="inference", size={"min": 2, "max": 4}, zones=["us-east-1c"]),
        pool(name="pinned", instanceType="g6e.12xlarge", purpose="inference", rollout={"strategy": "manual"}, zones=["us-east-1c"]),
        pool(name="rolled", instanceType="g6e.12xlarge", rollout={"strategy": "rolling", "minHealthyPercent": 50}, zones=["us-east-1c"]),
    ]))


def test_training_pools_keep_running_nodes(aws):
    train = _groups(aws)["train"]
    assert train.inputs["launchTemplate"]["version"] == "$Latest" and "instanceRefresh" not in train.inputs
    assert "instanceRefresh" not in _groups(aws)["pinned"].inputs


def test_inference_and_chosen_pools_refresh_their_instances(aws):
    serve, rolled = _groups(aws)["serve"], _groups(aws)["rolled"]
    assert serve.inputs["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 90
    assert rolled.inputs["instanceRefresh"] == {
        "strategy": "Rolling", "preferences": {"minHealthyPercentage": 50, "instanceWarmup": "300", "skipMatching": True}}
    # A refresh starts only when the version the group names changes: the template's latest, not "$Latest".
    assert rolled.inputs["launchTemplate"]["version"] == "<computed>"


def test_the_preview_says_which_pools_keep_old_nodes(aws):
    messages = [m for level, m in aws.diagnostics if level == "info"]
    assert any("'train': rollout manual" in m and "running nodes keep the old one" in m for m in messages)
    assert any("'serve': rollout rolling" in m and "90% in service" in m for m in messages)
    assert aws.outputs["pools"]["pinned"]["rollout"] == "manual" and aws.outputs["pools"]["rolled"]["rollout"] == "rolling"


def test_gcp_groups_update_opportunistically_unless_rolling():
    result = _gcp_preview([
        {"name": "train", "instanceType": "g2-standard-24", "size": {"min": 2, "max": 2}, "capacity": {"type": "spot"}},
        {"name": "serve", "instanceType": "g2-standard-24", "size": {"min": 4, "max": 4}, "purpose": "inference"},
    ])
    policies = {g.inputs["baseInstanceName"].rsplit("-", 1)[-1]: g.inputs["updatePolicy"] for g in of_type(result, MIG)}
    assert policies["train"] == {"type": "OPPORTUNISTIC", "minimalAction": "REPLACE"}
    assert policies["serve"] == {"type": "PROACTIVE", "minimalAction": "REPLACE", "maxSurgeFixed": 0,
                                 "maxUnavailableFixed": 1, "replacementMethod": "RECREATE"}
