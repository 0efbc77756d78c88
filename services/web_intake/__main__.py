"""python -m services.web_intake"""

from services.web_intake.bootstrap import build_app
from services.web_intake.config import WebIntakeSettings
from shared.runtime import serve

settings = WebIntakeSettings()
serve(build_app(settings), settings)
