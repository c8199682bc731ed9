"""The exceptions microprop raises. Each carries the Rust error's message, which names the
file, array, sample or setting at fault."""


class MicropropError(Exception):
    """Base class of every error microprop raises."""


class SettingError(MicropropError, ValueError):
    """A setting (keyword argument or config entry) that cannot be used as given."""


class InputError(MicropropError, ValueError):
    """An input (array, image file, table, volume) that cannot be used."""


class WeightsError(MicropropError):
    """A model checkpoint or config that cannot be loaded, or a download that failed."""


class BackendError(MicropropError):
    """The compute backend failed (device memory, GPU driver)."""


__all__ = ["MicropropError", "SettingError", "InputError", "WeightsError", "BackendError"]
