"""Registry tables of the automatic export to billing centres (manual 4.4.2). PLACEHOLDER."""

DDL = ""
