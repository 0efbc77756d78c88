"""python -m services.letter_intake"""

from services.letter_intake.bootstrap import build_app
from services.letter_intake.config import LetterIntakeSettings
from shared.runtime import serve

settings = LetterIntakeSettings()
serve(build_app(settings), settings)
