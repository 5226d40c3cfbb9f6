"""The gpucluster sovereignty pack, for `pulumi preview --policy-pack policies/sovereignty`. Policies live in gpucluster.policies."""

from pulumi_policy import PolicyPack

from gpucluster.policies import PACKS

pack = PACKS["sovereignty"]
PolicyPack(pack.name, pack.policies, enforcement_level=pack.enforcement_level, description=pack.description)
