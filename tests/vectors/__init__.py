"""RFC 9162 test vectors as data files, written by :mod:`tests.vectors.generate`."""
