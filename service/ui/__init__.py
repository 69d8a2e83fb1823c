"""The what-if page served at /ui (index.html: plain HTML, CSS and JavaScript, no build step)."""
