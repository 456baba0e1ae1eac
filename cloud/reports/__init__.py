"""Reports (manual 4.3): one engine for all of them.

A report is a ``ReportSpec`` (engine.py): its parameters, described so that the UI and the API can
ask for them without knowing the report, and a builder that turns parsed parameters into a
``Report`` (table.py) through the service layer. A ``Report`` is written either as XLSX (xlsx.py)
or as JSON (``Report.as_json``): the same rows both ways. jobs.py runs a report in the background
with its progress; service.py is what the UI and the API call. One module per report
(``r_*.py``); catalogue.py lists them in the manual's order.
"""
