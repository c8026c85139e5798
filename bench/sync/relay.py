#!/usr/bin/env python3
"""Byte-counting TCP relay for the sync benchmark.

Usage: relay.py COUNTS_FILE LISTEN_PORT:TARGET_PORT [...]
Forwards each 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT unchanged (TLS passes through
end to end) and counts the bytes in each direction. On SIGUSR1 it writes
{"LISTEN_PORT": {"up": bytes client->target, "down": bytes target->client, "conns": n}}
to COUNTS_FILE (written to a temp name, then renamed).
"""
import asyncio
import json
import os
import signal
import sys

counts = {}


async def pipe(reader, writer, key, field):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            counts[key][field] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def handler(key, target):
    async def handle(creader, cwriter):
        counts[key]["conns"] += 1
        try:
            treader, twriter = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, twriter, key, "up"), pipe(treader, cwriter, key, "down"))
    return handle


def dump(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(counts, f)
    os.rename(tmp, path)


async def main():
    path = sys.argv[1]
    servers = []
    for spec in sys.argv[2:]:
        listen, target = (int(x) for x in spec.split(":"))
        counts[str(listen)] = {"up": 0, "down": 0, "conns": 0}
        servers.append(await asyncio.start_server(handler(str(listen), target), "127.0.0.1", listen))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, dump, path)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    dump(path)  # ready
    await stop


asyncio.run(main())
