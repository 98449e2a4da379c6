"""The formula language: its grammar (``grammar.lark``), parser (``parser``), typed syntax tree
(``syntax``), built-in functions (``functions``) and meaning (``binder``: names resolved, KPI
references inlined, aggregates as atoms)."""
