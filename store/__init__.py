"""Models, migrations, repositories, the document vault, extraction and normalization.
Imports nothing from bots or web.
"""
