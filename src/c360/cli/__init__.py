"""The ``c360`` command line: parse, call a service, render."""
