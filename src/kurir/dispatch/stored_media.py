"""A media broadcast's file, read from the database where a URL's would be fetched.

The file was checked (decoded, its type told, its size within WhatsApp's
limit) when the broadcast was accepted, and is stored once for all its
messages. A worker sending many of them reads it once: the last few files
are kept, up to a byte budget.
"""

from collections import OrderedDict

from kurir.domain.broadcast import stored_media_url
from kurir.domain.content import MediaType
from kurir.store import Store, broadcasts
from kurir.transports.base import MediaFile, PermanentSendError

#: How many bytes of files a worker keeps between sends.
_CACHE_BYTES = 64 * 1024 * 1024


class StoredMedia:
    """Reads broadcasts' files for one worker, keeping the latest in memory."""

    def __init__(self, store: Store, cache_bytes: int = _CACHE_BYTES) -> None:
        self._store = store
        self._cache_bytes = cache_bytes
        self._cached: OrderedDict[tuple[str, int], MediaFile] = OrderedDict()

    async def load(self, broadcast: str, device_id: int) -> MediaFile:
        """The file of ``broadcast``, which must be one of ``device_id``'s."""
        key = (broadcast, device_id)
        found = self._cached.get(key)
        if found is not None:
            self._cached.move_to_end(key)
            return found
        stored = await self._store.read(broadcasts.stored_media, broadcast, device_id=device_id)
        if stored is None:
            raise PermanentSendError(f"media: the file of broadcast {broadcast} is not stored")
        media_type, content_type, data = stored
        found = MediaFile(
            media_type=MediaType(media_type),
            content_type=content_type,
            data=data,
            url=stored_media_url(broadcast),
        )
        self._cached[key] = found
        while sum(len(f.data) for f in self._cached.values()) > self._cache_bytes:
            self._cached.popitem(last=False)
        return found
