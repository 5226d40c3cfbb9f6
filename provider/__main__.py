"""The gpucluster component provider: serves the cluster components and the building blocks to any Pulumi language,
with a schema inferred from their typed inputs and outputs (README, "Use from any language")."""

from pulumi.provider.experimental import component_provider_host

from components.package import PACKAGE, PACKAGE_COMPONENTS, VERSION

if __name__ == "__main__":
    component_provider_host(components=PACKAGE_COMPONENTS, name=PACKAGE, version=VERSION)
