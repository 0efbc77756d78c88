"""python -m services.phone_intake"""

from services.phone_intake.bootstrap import build_app
from services.phone_intake.config import PhoneIntakeSettings
from shared.runtime import serve

settings = PhoneIntakeSettings()
serve(build_app(settings), settings)
