"""Evidence attachments: content-addressed blobs, resumable uploads and their index.

``sniff`` names a file's media type from its bytes, ``blobs`` is the blob-store port with its
filesystem adapter, ``uploads`` keeps partial (tus) uploads apart from finished blobs,
``index`` is the SQL table of received blobs, ``images`` strips metadata and makes thumbnails.
docs/attachments.md is the prose twin.
"""
