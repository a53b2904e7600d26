"""archspec's command-line front end (installed as archspec.cli)."""
