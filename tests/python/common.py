"""Paths shared by the Python tests (set by CTest; defaults for running by hand)."""
import os
import subprocess
import sys

SOURCE_DIR = os.environ.get("CEMBED_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("CEMBED_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "release"))
CEMBED = os.path.join(BUILD_DIR, "cembed")
EXPORT = os.path.join(BUILD_DIR, "tests", "reference_export")
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "reference"))


def run(cmd, **kw):
    """Runs a command; returns the CompletedProcess (text mode)."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)

# The Python package as built (python/CMakeLists.txt): <build>/python/cembed.
sys.path.insert(0, os.path.join(BUILD_DIR, "python"))
