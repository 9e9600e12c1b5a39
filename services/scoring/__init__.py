# Whether the compiled hot modules or their sources are imported is decided here, before any scoring module is:
# see services/scoring/compiled.py. Imported by name, not statically, so that mypyc's type check of those modules
# (which starts at this package) does not follow it.
import importlib as _importlib

_importlib.import_module("services.scoring.compiled").select_form()
