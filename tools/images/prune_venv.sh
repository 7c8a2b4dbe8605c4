#!/bin/sh
# Removes from a runtime venv what no service needs at runtime; the Dockerfile's builder stage runs it on
# /opt/venv, and tools/images/estimate_size.py on the venv it measures.
#   prune_venv.sh VENV
# - bytecode: the image ships none (Python writes it to /tmp at first import, PYTHONPYCACHEPREFIX);
# - type stubs, Cython and C sources, headers: for type checkers and compilers, not the interpreter;
# - activate scripts and uv's own binaries;
# - debug symbols of the compiled extensions (strip --strip-unneeded keeps what the loader needs);
# - botocore's API models of every AWS service but S3 (the services speak S3 only; the models of the
#   other ~400 services are most of botocore's size). Its top-level data files (endpoints, partitions,
#   retry and default configuration) stay.
set -eu
venv=${1:?usage: prune_venv.sh VENV}
find "$venv" -type d -name __pycache__ -prune -exec rm -rf {} +
find "$venv" -type f \( -name '*.pyi' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.c' -o -name '*.h' \
    -o -name '*.cpp' \) -delete
rm -f "$venv"/bin/activate* "$venv"/bin/uv "$venv"/bin/uvx
find "$venv" -type f -name '*.so*' -exec strip --strip-unneeded {} +
for data in "$venv"/lib/python3*/site-packages/botocore/data; do
    [ -d "$data" ] && find "$data" -mindepth 1 -maxdepth 1 -type d ! -name s3 -exec rm -rf {} +
done
