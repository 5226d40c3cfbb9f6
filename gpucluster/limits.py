"""Cloud limits on what the components emit, checked before anything runs. Pure: no Pulumi.

Each check returns problems as `gpucluster.validate`'s do; `limit_problems` runs them all. Names come from
`gpucluster.naming`, the module the components name their resources with, so the check sees the names that
would be deployed. Without these checks the offline preview passes and the deploy fails.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from . import naming
from .catalog import InstanceType, load
from .plan import node_setup, wants_placement_group
from .problems import Problem
from .spec import ClusterSpec, Pool
from .userdata import NodeSetup, node_script


def _instance(spec: ClusterSpec, pool: Pool) -> InstanceType | None:
    catalog = load(spec.cloud)
    return catalog[pool.instance_type] if pool.instance_type in catalog else None  # unknown: refused elsewhere


def _name_problem(field: str, value: str, names: list[tuple[naming.Limit, str]]) -> Iterator[Problem]:
    """One problem per spec field: a name it makes invalid, else the one that needs it shortest."""
    over = []
    for limit, name in names:
        physical = limit.physical(name)
        # Double quotes: a Problem clips long '...' values, and these names are bounded and the point of the message.
        shown = f'"{physical}"' + (f" ({naming.AUTONAME_SUFFIX[1:]}: the random suffix Pulumi adds)" if limit.autonamed else "")
        if len(physical) > limit.max_length:
            over.append((len(physical) - limit.max_length, limit, shown))
        elif not re.fullmatch(limit.pattern, physical):
            yield Problem(field, f"'{value}' makes the {limit.label} name {shown} invalid: {limit.label} names allow "
                                 f"{limit.allowed} ({limit.source}). Choose another {field}", code="GPC-NAME-INVALID")
            return
    if over:
        excess, limit, shown = max(over, key=lambda o: o[0])
        yield Problem(field, f"'{value}' makes the {limit.label} name {shown} {limit.max_length + excess} characters long; the "
                             f"limit is {limit.max_length} ({limit.source}). Shorten {field} to at most {len(value) - excess} characters",
                      code="GPC-NAME-LENGTH")


def spec_names(spec: ClusterSpec) -> Iterator[tuple[str, str, list[tuple[naming.Limit, str]]]]:
    """(field, its value, the longest name of each kind built from it): cluster-wide names from `name`, a pool's
    from `pools[i].name` (they hold the cluster name too, but the pool's is the one to shorten)."""
    yield "name", spec.name, naming.cluster_names(spec.cloud, spec.name)
    for i, pool in enumerate(spec.pools):
        instance = _instance(spec, pool)
        compact = instance is not None and wants_placement_group(pool, instance)
        yield f"pools[{i}].name", pool.name, naming.pool_names(spec.cloud, spec.name, pool.name, pool.capacity.plan().spot, compact)


def check_names(spec: ClusterSpec) -> Iterator[Problem]:
    for field, value, names in spec_names(spec):
        yield from _name_problem(field, value, names)


_TAG_SOURCE = "Tagging AWS Resources User Guide, 'Tag naming limits and requirements'; IAM and FSx API Reference, Tag"
_LABEL_CHARS = frozenset(string.ascii_lowercase + string.digits + "_-")  # what GCP labels allow (ASCII only here)
_LABEL_SOURCE = naming.TAGS_PER_RESOURCE["gcp"][1]


def _spec_tags(spec: ClusterSpec) -> list[tuple[str, str, str]]:
    """(field path, key, value) of each tag the spec asks for."""
    tags = spec.tags
    return [("tags.owner", "owner", tags.owner), ("tags.costCenter", "cost-center", tags.cost_center),
            ("tags.project", "project", tags.project), *((f"tags.extra.{k}", k, v) for k, v in tags.extra.items())]


def check_tags(spec: ClusterSpec) -> Iterator[Problem]:
    limit, source = naming.TAGS_PER_RESOURCE[spec.cloud]
    added, extra = naming.ADDED_TAGS[spec.cloud], spec.tags.extra
    keys = {*spec.tags.as_dict(), *added}
    if len(keys) > limit:
        yield Problem("tags.extra", f"{len(extra)} extra tags give a pool's resources {len(keys)} with the {len(added)} gpucluster "
                                    f"adds ({', '.join(added)}); {spec.cloud.upper()} allows {limit} per resource ({source}). "
                                    f"Keep at most {len(extra) - (len(keys) - limit)} extra tags",
                      code="GPC-TAGS-COUNT")
    for path, key, value in _spec_tags(spec):
        if spec.cloud == "aws":
            bad = next((c for c in key + value if not (c.isalnum() or c in naming.AWS_TAG_PUNCTUATION)), None)
            if bad:
                yield Problem(path, f"'{bad}' in tag {key}={value!r}: AWS tags take letters, digits, spaces and "
                                    f"{' '.join(naming.AWS_TAG_PUNCTUATION.strip())} ({_TAG_SOURCE})",
                              code="GPC-TAG-CHARS")
        elif reason := _label_problem(key, value):
            yield Problem(path, f"{reason}: GCP label keys and values take at most 63 lowercase letters, digits, '_' and '-', "
                                f"and keys start with a letter ({_LABEL_SOURCE})",
                          code="GPC-LABEL-INVALID")


def _label_problem(key: str, value: str) -> str | None:
    bad = next((c for c in key + value if c not in _LABEL_CHARS), None)
    if bad:
        return f"'{bad}' in label {key}={value!r}"
    if max(len(key), len(value)) > 63:
        return f"label {key}={value!r} is longer than 63 characters"
    return None if key[0].isalpha() else f"label key '{key}' does not start with a letter"


_AMI = re.compile(r"ami-([0-9a-f]{8}|[0-9a-f]{17})|resolve:ssm:[A-Za-z0-9_./-]+(:[A-Za-z0-9_.-]+)?")
_GCE_IMAGE = re.compile(
    r"(https://www\.googleapis\.com/compute/v1/)?(projects/[^/]+/)?global/images/(family/)?[a-z]([-a-z0-9]*[a-z0-9])?"
)
_IMAGE_FORMS = {
    "aws": (_AMI, "an AMI id (ami- and 8 or 17 hex digits) or resolve:ssm:<parameter name>[:<version or label>] (EC2 User "
                  "Guide, 'Resource IDs'; EC2 Auto Scaling User Guide, 'Use AWS Systems Manager parameters instead of AMI IDs')"),
    "gcp": (_GCE_IMAGE, "[projects/<project>/]global/images/[family/]<name>, optionally as a full https://www.googleapis.com/"
                        "compute/v1/ URL (Compute Engine API, AttachedDiskInitializeParams: sourceImage)"),
}


def check_image_ids(spec: ClusterSpec) -> Iterator[Problem]:
    pattern, forms = _IMAGE_FORMS[spec.cloud]
    for i, pool in enumerate(spec.pools):
        if pool.image_id is not None and not pattern.fullmatch(pool.image_id):
            yield Problem(f"pools[{i}].imageId", f"'{pool.image_id}' is not an image {spec.cloud} can boot: give {forms}",
                          code="GPC-IMAGE-ID")


# What the user data holds that is unknown until deploy, at its documented longest: the file system's address and mount name.
SHARED_UNKNOWNS = {
    "aws": ("f" * 275, "m" * 8),  # FSx API Reference, FileSystem: DNSName; LustreFileSystemConfiguration: MountName
    "gcp": ("255.255.255.255", "m" * 8),  # Managed Lustre mount point <IP>@tcp:/<filesystem, at most 8 characters>
}
_USER_DATA_SOURCE = ("EC2 User Guide, 'Run commands when you launch an EC2 instance with user data input': 16 KB before "
                     "base64; gpucluster.userdata holds GCE startup scripts to the same, within GCE's 256 KB per metadata value")


def longest_node_script(spec: ClusterSpec, setup: NodeSetup) -> str:
    """A pool's node script as the cluster components render it, with what is unknown before deploy at its longest.
    Raises ValueError past the user-data limit (gpucluster.userdata.render)."""
    address, mount_name = SHARED_UNKNOWNS[spec.cloud]
    bucket = naming.bucket(naming.storage(spec.name), "checkpoints") + naming.AUTONAME_SUFFIX  # autonamed on both clouds
    return node_script(setup, address, mount_name, bucket)


def _free_text(setup: NodeSetup, i: int) -> dict[str, str]:
    """The spec's free-text fields a node script carries (path -> value): the ones a user can shorten."""
    fields = {}
    if setup.scratch:
        fields["storage.scratch.mount"] = setup.scratch.mount
    if setup.shared_mount:
        fields["storage.shared.mount"] = setup.shared_mount
    if setup.checkpoint:
        fields[f"pools[{i}].checkpoint.command"] = setup.checkpoint.command or ""
        fields[f"pools[{i}].checkpoint.directory"] = setup.checkpoint.directory
    return fields


def check_user_data(spec: ClusterSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.pools):
        instance = _instance(spec, pool)
        setup = node_setup(spec, pool, instance) if instance else None
        if setup is None:
            continue
        try:
            longest_node_script(spec, setup)
        except ValueError as exc:  # render refuses more than EC2_USER_DATA_LIMIT bytes
            fields = _free_text(setup, i)
            path = max(fields, key=lambda p: len(fields[p]))  # the longest free text in it is the one to shorten
            yield Problem(path, f"makes the node setup script of pools[{i}] too large ({exc}), counting the file system's "
                                f"address and mount name at their longest ({_USER_DATA_SOURCE}). Shorten {path}",
                          code="GPC-USERDATA-SIZE")


CAPACITY_BLOCK_MAX = 64  # EC2 API Reference, DescribeCapacityBlockOfferings: InstanceCount


def check_capacity_blocks(spec: ClusterSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.pools):
        if pool.capacity.plan().capacity_block and pool.size.max > CAPACITY_BLOCK_MAX:
            yield Problem(f"pools[{i}].size.max", f"{pool.size.max} instances in one capacity block; a Capacity Block for ML "
                          f"holds at most {CAPACITY_BLOCK_MAX} (EC2 API Reference, DescribeCapacityBlockOfferings: InstanceCount). "
                          "Split the pool, one block each", code="GPC-BLOCK-MAX")


def check_pool_zones_once(spec: ClusterSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.pools):
        for j, zone in enumerate(pool.zones):
            if zone in pool.zones[:j]:
                first = pool.zones.index(zone)
                yield Problem(f"pools[{i}].zones[{j}]", f"'{zone}' is already pools[{i}].zones[{first}]; list each zone once",
                              code="GPC-POOL-ZONE-DUPLICATE")


def limit_problems(spec: ClusterSpec) -> list[Problem]:
    return [*check_names(spec), *check_tags(spec), *check_image_ids(spec), *check_user_data(spec),
            *check_capacity_blocks(spec), *check_pool_zones_once(spec)]
