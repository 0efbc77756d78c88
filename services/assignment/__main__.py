"""python -m services.assignment"""

from services.assignment.bootstrap import build_app
from services.assignment.config import AssignmentSettings
from shared.runtime import serve

settings = AssignmentSettings()
serve(build_app(settings), settings)
