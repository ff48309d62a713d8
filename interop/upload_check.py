"""PyPI gql uploads an avatar by the GraphQL multipart request spec (FileVar
over requests); Pillow, a decoder authql does not use, opens the image served
at avatarUrl: a 256 x 256 PNG."""

import io
import urllib.request

from gql import Client, FileVar, gql
from gql.transport.requests import RequestsHTTPTransport
from PIL import Image

from common import URL, login, signup_and_confirm

signup_and_confirm("upload@example.com")
token = login("upload@example.com")["accessToken"]
photo = io.BytesIO()
Image.new("RGB", (640, 480), (30, 120, 200)).save(photo, "JPEG")
photo.seek(0)

transport = RequestsHTTPTransport(
    url=URL + "/graphql",
    headers={"Authorization": "Bearer " + token, "Apollo-Require-Preflight": "true"},
)
client = Client(transport=transport)
result = client.execute(
    gql("mutation($file: Upload!) { uploadAvatar(file: $file) { avatarUrl } }"),
    variable_values={"file": FileVar(photo, filename="photo.jpg", content_type="image/jpeg")},
    upload_files=True,
)
url = result["uploadAvatar"]["avatarUrl"]
with urllib.request.urlopen(url) as resp:
    assert resp.headers["content-type"] == "image/png", resp.headers["content-type"]
    served = Image.open(io.BytesIO(resp.read()))
    served.load()
assert served.format == "PNG" and served.size == (256, 256), (served.format, served.size)
print(f"avatar uploaded with gql, served as a {served.size[0]}x{served.size[1]} {served.format} Pillow reads")
