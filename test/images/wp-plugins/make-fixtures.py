#!/usr/bin/python3
"""make-fixtures: the plugin zips and manifests of t-wp-plugins (issue 16).

  make-fixtures.py OUT URL SRCDIR

Writes into OUT:
  zips/bg-hello.1.0.zip, zips/bg-form.2.0.zip, zips/bg-extra.1.0.zip:
      small plugins made here (a PHP file with a plugin header, a marker);
      bg-hello prints <meta name="bg-hello-active"> in wp_head when active;
  zips/http-authentication.4.6.zip: a real plugin, Debian's package
      wordpress-plugin-http-authentication (apt-get download, dpkg-deb -x),
      its wp-content/plugins/http-authentication directory zipped;
  modules/: wordpress/module.conf copied from SRCDIR, and the two set
      manifests with source URL/${slug}.${version}.zip and the real hashes:
      standard = bg-hello 1.0 + http-authentication 4.6, landing = bg-form 2.0.
Prints "SLUG SHA256" for every zip. No shell: argv lists only.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

out, url, src = sys.argv[1], sys.argv[2], sys.argv[3]
zips = os.path.join(out, "zips")
os.makedirs(zips, exist_ok=True)


def plugin_zip(slug, version, php_extra):
    path = os.path.join(zips, "%s.%s.zip" % (slug, version))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(slug + "/", "")
        z.writestr("%s/%s.php" % (slug, slug),
                   "<?php\n/*\n * Plugin Name: %s\n * Version: %s\n * License: GPL-2.0-or-later\n */\n%s"
                   % (slug, version, php_extra))
        z.writestr("%s/marker.txt" % slug, "%s-%s" % (slug, version))
    return path


hello = "add_action('wp_head', function () { echo \"<meta name=\\\"bg-hello-active\\\" content=\\\"1.0\\\">\\n\"; });\n"
plugin_zip("bg-hello", "1.0", hello)
plugin_zip("bg-form", "2.0", "")
plugin_zip("bg-extra", "1.0", "")

# Debian's real plugin.
deb_dir = os.path.join(out, "deb")
os.makedirs(deb_dir, exist_ok=True)
subprocess.run(["apt-get", "download", "-q", "wordpress-plugin-http-authentication"],
               cwd=deb_dir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deb = [f for f in os.listdir(deb_dir) if f.endswith(".deb")][0]
root = os.path.join(deb_dir, "root")
subprocess.run(["dpkg-deb", "-x", os.path.join(deb_dir, deb), root], check=True)
pdir = os.path.join(root, "usr/share/wordpress/wp-content/plugins")
with zipfile.ZipFile(os.path.join(zips, "http-authentication.4.6.zip"), "w",
                     zipfile.ZIP_DEFLATED) as z:
    for base, dirs, files in sorted(os.walk(os.path.join(pdir, "http-authentication"))):
        rel = os.path.relpath(base, pdir)
        z.writestr(rel + "/", "")
        for f in sorted(files):
            z.write(os.path.join(base, f), os.path.join(rel, f))
shutil.rmtree(deb_dir)

sha = {}
for f in sorted(os.listdir(zips)):
    slug = f[: f.index(".")]
    with open(os.path.join(zips, f), "rb") as fh:
        sha[slug] = hashlib.sha256(fh.read()).hexdigest()
    print(slug, sha[slug])

mods = os.path.join(out, "modules")
os.makedirs(os.path.join(mods, "wordpress"), exist_ok=True)
shutil.copy(os.path.join(src, "modules/wordpress/module.conf"), os.path.join(mods, "wordpress"))


def manifest(module, name, entries):
    d = os.path.join(mods, module)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "plugins.conf"), "w") as f:
        f.write("set: %s\nsource: \"%s/${slug}.${version}.zip\"\nplugins:\n" % (name, url))
        for slug, version in entries:
            f.write("  - slug: %s\n    version: \"%s\"\n    sha256: %s\n"
                    "    licence: GPL-2.0-or-later\n    for: \"t-wp-plugins\"\n"
                    "    why: \"a fixture\"\n" % (slug, version, sha[slug]))


manifest("wp-plugins-standard", "standard", [("bg-hello", "1.0"), ("http-authentication", "4.6")])
manifest("landing", "landing", [("bg-form", "2.0")])
