"""``make package``: the Lambda layers and function zips, built for the target runtime.

See ``infra/README.md``. Modules: ``target`` (runtime, architecture, wheel tags), ``wheels``
(download, install and verify the third-party layer), ``archive`` (reproducible zips),
``build`` (the artifacts and their sizes).
"""
