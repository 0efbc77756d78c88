"""python -m services.archive"""

from services.archive.bootstrap import build_app
from services.archive.config import ArchiveSettings
from shared.runtime import serve

settings = ArchiveSettings()
serve(build_app(settings), settings)
