"""What a change between two previews does: created, deleted, updated and replaced resources, and which changes disrupt running nodes or delete data."""
