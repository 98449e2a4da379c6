"""Definition files → a checked catalog: YAML with positions (``loader``), pydantic models (``model``),
the catalog of datasets and KPIs (``catalog``), reading the files (``files``), rules across
definitions (``validation``) and finding the project (``discovery``)."""
