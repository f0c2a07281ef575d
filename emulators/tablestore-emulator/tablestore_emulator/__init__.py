"""A local Alibaba Cloud Tablestore (OTS) that the real ``tablestore`` SDK talks to over its HTTP/protobuf
wire protocol. See README.md.

    from tablestore_emulator import TablestoreEmulator
    with TablestoreEmulator(access_key_id="id", access_key_secret="secret", instance="inst") as emu:
        client = tablestore.OTSClient(emu.endpoint, "id", "secret", "inst")
"""

from .state import OTSError

__all__ = ["TablestoreEmulator", "OTSError"]


def __getattr__(name):   # lazy: importing the package (e.g. for the CLI) does not import the SDK yet
    if name == "TablestoreEmulator":
        from .emulator import TablestoreEmulator
        return TablestoreEmulator
    raise AttributeError(name)
