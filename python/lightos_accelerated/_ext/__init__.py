"""The gopy-generated binding of ./pyext (built by setup.py; not in git)."""
