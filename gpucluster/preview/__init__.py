"""Offline preview: the real stack program run under Pulumi's mocks, with no CLI, plugins or credentials."""
