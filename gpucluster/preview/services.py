"""The engine's side of the gRPC services a plugin started the way the Pulumi CLI starts it calls back into: the
Engine service (logs, the root resource). Used for a user's policy packs (gpucluster.policies.external) and by the
tests that start the component provider."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc


class EngineService(engine_pb2_grpc.EngineServicer):
    """Keeps what the plugin logs, and answers for the root (stack) resource."""

    def __init__(self, stack_urn: str):
        self.stack_urn = stack_urn
        self.logs: list[str] = []

    def Log(self, request, context):
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        self.logs.append(f"{severity}: {request.message.strip()}")
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return engine_pb2.GetRootResourceResponse(urn=self.stack_urn)

    def SetRootResource(self, request, context):
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(self, request, context):
        return engine_pb2.RequirePulumiVersionResponse()


@contextmanager
def serve_engine(stack_urn: str) -> Iterator[tuple[EngineService, str]]:
    """An Engine service on a free loopback port, until the block ends: the service and its address."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    service = EngineService(stack_urn)
    engine_pb2_grpc.add_EngineServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield service, f"127.0.0.1:{port}"
    finally:
        server.stop(0)
