"""python -m services.followup"""

from services.followup.bootstrap import build_app
from services.followup.config import FollowUpSettings
from shared.runtime import serve

settings = FollowUpSettings()
serve(build_app(settings), settings)
