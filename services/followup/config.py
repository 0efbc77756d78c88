"""Settings of the follow-up service."""

from pydantic import Field

from shared.settings import ServiceSettings


class FollowUpSettings(ServiceSettings):
    service_port: int = 8013
    max_callback_attempts: int = 3
    callback_hour: int = Field(10, ge=0, le=23, description="Local hour of the first callback attempt.")
    notice_sweep_seconds: float = Field(2.0, gt=0, description="How often due notices are sent or retried.")
    notice_smtp_host: str = Field("", description="Outgoing mail server for email notices ('' = email off).")
    notice_smtp_port: int = 25
    notice_smtp_from: str = "noreply@hengan-wuye.example"
    notice_smtp_user: str = ""
    notice_smtp_password: str = ""
    notice_smtp_starttls: bool = False
    sms_gateway_url: str = Field("", description="HTTP SMS gateway that accepts POST JSON ('' = SMS off).")
    sms_gateway_key: str = ""
    notice_retry_scale: float = Field(1.0, gt=0, description="Multiplies the retry back-off (30 s, 2 min, …).")
    sms_sign: str = Field("恒安物业", description="Signature the SMS gateway prints (短信签名).")
