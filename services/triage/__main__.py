"""python -m services.triage"""

from services.triage.bootstrap import build_app
from services.triage.config import TriageSettings
from shared.runtime import serve

settings = TriageSettings()
serve(build_app(settings), settings)
