"""``kpi mcp``: a project served to AI assistants over the Model Context Protocol, on stdio.

``tools.py`` is what each tool answers, as plain functions over a :class:`~kpi_engine.Project`
(no MCP in it, so the answers are the same wherever they are served from); ``server.py`` is the
MCP server itself, built on the ``mcp`` package (an optional extra: ``kpi-engine[mcp]``), with the
descriptions an assistant reads and the errors it gets back. Importing this package does not
import ``mcp``: :func:`sdk_problem` says whether it can be.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["INSTALL_HINT", "sdk_problem"]

INSTALL_HINT = "pip install 'kpi-engine[mcp]'"


def sdk_problem() -> str | None:
    """Why the MCP server cannot start here (the ``mcp`` package is missing, or is a 1.x without
    ``MCPServer``), as the one line ``kpi mcp`` prints; None when it can."""
    try:
        import mcp.server.mcpserver  # noqa: F401 - only whether it imports
    except ImportError as exc:
        try:
            installed = metadata.version("mcp")
        except metadata.PackageNotFoundError:
            found = "it is not installed"
        else:
            major = installed.split(".")[0]
            found = (f"mcp {installed} is installed; 2.0 or newer is needed" if major.isdigit() and int(major) < 2
                     else f"mcp {installed} is installed but does not import: {exc}")
        return f"error[missing-extra]: kpi mcp needs the 'mcp' package ({found}): {INSTALL_HINT}"
    return None
