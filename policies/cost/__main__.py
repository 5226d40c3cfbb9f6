"""The gpucluster cost pack, for `pulumi preview --policy-pack policies/cost`. Policies live in gpucluster.policies."""

from pulumi_policy import PolicyPack

from gpucluster.policies import PACKS

pack = PACKS["cost"]
PolicyPack(pack.name, pack.policies, enforcement_level=pack.enforcement_level, description=pack.description)
