#!/usr/bin/env python3
"""Pack this interpreter, NumPy and the built lightos_accelerated into one archive.

    .venv/bin/python bench/python/make_portable.py [--out bin/pyportable.tar.xz]

Why: the Python benchmarks (bench_matmul.py, bench_mlp.py, bench_overhead.py) need the
gopy extension, which is built for this machine's Python (3.11). A quiet benchmark machine
with another Python (the GPU pool's Xeon hosts have 3.12 and no Go) cannot build it. The
archive holds the interpreter (bin/python3.11 and libpython), its standard library without
tests and GUI modules, and site-packages with NumPy and lightos_accelerated only, so that on
a glibc Linux of the same architecture:

    mkdir -p /tmp/py && tar xJf bin/pyportable.tar.xz -C /tmp/py
    LD_LIBRARY_PATH=/tmp/py/lib /tmp/py/bin/python3 bench/python/bench_mlp.py

runs the same benchmarks, both sides in one interpreter. Nothing is downloaded.
"""
import argparse
import os
import sys
import sysconfig
import tarfile

import numpy

import lightos_accelerated

SKIP_STDLIB = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
               "__pycache__", "pydoc_data"}


def stdlib_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Drop the standard library's tests, GUI modules, bytecode caches and site-packages."""
    parts = info.name.split("/")
    if len(parts) > 2 and parts[2] == "site-packages":
        return None
    return package_filter(info)


def package_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Drop tests and bytecode caches."""
    parts = info.name.split("/")
    if any(p in SKIP_STDLIB for p in parts) or parts[-1].startswith("config-"):
        return None
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bin/pyportable.tar.xz")
    args = ap.parse_args()
    prefix = sys.base_prefix
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    libdir = sysconfig.get_config_var("LIBDIR") or os.path.join(prefix, "lib")
    ldlib = sysconfig.get_config_var("INSTSONAME")
    site = f"lib/{ver}/site-packages"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with tarfile.open(args.out, "w:xz", preset=3) as tar:
        exe = os.path.join(prefix, "bin", ver)
        tar.add(os.path.realpath(exe), arcname=f"bin/{ver}")
        tar.add(os.path.realpath(exe), arcname="bin/python3")
        if ldlib:
            tar.add(os.path.realpath(os.path.join(libdir, ldlib)), arcname=f"lib/{ldlib}")
        tar.add(os.path.join(prefix, "lib", ver), arcname=f"lib/{ver}", filter=stdlib_filter)
        for mod in (numpy,):
            d = os.path.dirname(mod.__file__)
            tar.add(d, arcname=f"{site}/{os.path.basename(d)}", filter=package_filter)
            libs = d + ".libs"
            if os.path.isdir(libs):
                tar.add(libs, arcname=f"{site}/{os.path.basename(libs)}")
        d = os.path.dirname(lightos_accelerated.__file__)
        tar.add(d, arcname=f"{site}/lightos_accelerated", filter=package_filter)
    print(f"{args.out}: {os.path.getsize(args.out) / 1e6:.1f} MB ({ver}, NumPy {numpy.__version__})")


if __name__ == "__main__":
    main()
