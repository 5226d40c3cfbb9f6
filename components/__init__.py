"""Pulumi components, one package per cloud. Cloud-neutral logic lives in `gpucluster`."""
