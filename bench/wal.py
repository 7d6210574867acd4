#!/usr/bin/env python3
"""WAL figures for bench/run.sh, read beside a running server.

  wal.py frames DB     prints the number of frames in DB's write-ahead log and
                       the page size ("frames page_size"), from a passive
                       checkpoint (which waits for nobody)
  wal.py pin DB        opens a read transaction on DB and holds it until
                       killed: no checkpoint can restart the log meanwhile, so
                       the log grows by exactly what is written
  wal.py peak FILE S   samples FILE's size every 50 ms for S seconds and
                       prints the largest, in bytes
"""
import os
import sqlite3
import sys
import time


def frames(db):
    c = sqlite3.connect(db, isolation_level=None)
    page = c.execute("PRAGMA page_size").fetchone()[0]
    _, log, _ = c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    c.close()
    print(log, page)


def pin(db):
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("BEGIN")
    c.execute("SELECT count(*) FROM audit_events").fetchone()
    print("pinned", flush=True)
    while True:
        time.sleep(60)


def peak(path, seconds):
    end = time.monotonic() + float(seconds)
    top = 0
    while time.monotonic() < end:
        try:
            top = max(top, os.stat(path).st_size)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    print(top)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"frames": frames, "pin": pin, "peak": peak}[cmd](*args)
