"""The language front end: spec text -> plain data with the file:line:col of every key and
value (loader), the YAML guards that run first (yaml_guard), the JSON Schema generated from
the op registry (schema) and the expression language (expr). Never imports torch."""
