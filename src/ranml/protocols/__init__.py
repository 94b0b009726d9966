"""Wire codecs shared by the apps and the simulator: RMR framing (and, next, E2AP / E2SM).

Pure codecs: no sockets and no I/O policy here.
"""
