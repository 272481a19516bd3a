"""Agents on a Ray cluster (``--executor ray``, the ``orc[ray]`` extra). Disable with ``-p no:orc_ray``."""
