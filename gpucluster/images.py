"""The boot image a pool gets when it names none: decided here, for the components and for validation alike. None
where no published image is known to carry the accelerator's software; such a pool must give `imageId`."""

from __future__ import annotations

from .catalog import InstanceType

# Deep Learning AMIs as SSM public parameters, resolved by the launch template at launch ("Finding the ID of a DLAMI",
# docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html). The arm64 base GPU DLAMI lists G5g among its
# instances (DLAMI release notes, "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)").
AWS_GPU_IMAGES = {
    "x86_64": "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
    "arm64": "resolve:ssm:/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
}
# The Neuron multi-framework DLAMI (x86_64). Neuron DLAMIs from SDK 2.26.1 on no longer support Inf1 (NeuronCore v1):
# "Neuron DLAMI User Guide", awsdocs-neuron.readthedocs-hosted.com.
AWS_NEURON_IMAGE = "resolve:ssm:/aws/service/neuron/dlami/multi-framework/ubuntu-22.04/latest/image_id"
MIN_NEURON_CORE = 2
# Ubuntu 22.04 with NVIDIA drivers, published by Canonical for accelerator VMs (amd64).
GCP_GPU_IMAGE = "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2204-amd64-with-nvidia-570"


def default_image(instance: InstanceType) -> str | None:
    """The image for `instance` when the pool names none. Fractional GPUs (vGPU shares) need NVIDIA's GRID driver,
    which the GPU images do not carry; FPGA, media and Qualcomm accelerators have vendor images of their own."""
    accelerator, arch = instance.accelerator, instance.architectures[0]
    if accelerator.fraction is not None:
        return None
    if instance.cloud == "aws":
        if accelerator.kind == "gpu":
            return AWS_GPU_IMAGES.get(arch)
        if accelerator.kind in ("trainium", "inferentia") and arch == "x86_64" and (accelerator.core_version or 0) >= MIN_NEURON_CORE:
            return AWS_NEURON_IMAGE
        return None
    if instance.cloud == "gcp" and accelerator.kind == "gpu" and arch == "x86_64" and not instance.bare_metal:
        return GCP_GPU_IMAGE
    return None


def why_no_image(instance: InstanceType) -> str:
    accelerator = instance.accelerator
    if accelerator.fraction is not None:
        return f"its GPUs are shares of a board (1/{round(1 / accelerator.fraction)}), which need NVIDIA's GRID driver"
    if accelerator.kind in ("trainium", "inferentia"):
        return f"the Neuron DLAMIs no longer support NeuronCore v{accelerator.core_version or '?'} ({accelerator.model})"
    if accelerator.kind in ("fpga", "media", "inference"):
        return f"its {accelerator.manufacturer or ''} {accelerator.model} accelerators need their vendor's image".replace("  ", " ")
    if instance.bare_metal:
        return "it is a bare-metal type"
    return f"it runs {instance.architectures[0]}, for which no default GPU image is set"
