"""Registry columns of the billing document (manual 4.4.1): a meter's number in ГИС ЖКХ. PLACEHOLDER."""

DDL = ""
