"""Why a sign-on through the identity provider did not sign anyone on.

Each reason has its own page (sso.views.failure_page); the detail goes to the log only.
"""


class Failure:
    UNAVAILABLE = "unavailable"  # down, or answered what the portal cannot use
    REFUSED = "refused"  # the provider said no (an error in the callback, a refused code)
    STALE = "stale"  # no sign-in of this browser waits for this answer (state)
    NOT_VERIFIED = "not-verified"  # the ID token's signature, issuer, audience or nonce
    EXPIRED = "expired"  # the ID token had expired when it arrived
    GROUPS = "groups"  # the groups claim is not a list of names
    DISABLED = "disabled"  # the portal account is turned off


class SignInFailed(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
