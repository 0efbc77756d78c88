"""python -m services.fax_intake"""

from services.fax_intake.bootstrap import build_app
from services.fax_intake.config import FaxIntakeSettings
from shared.runtime import serve

settings = FaxIntakeSettings()
serve(build_app(settings), settings)
