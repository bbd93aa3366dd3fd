// systemd's Type=notify protocol: state lines ("READY=1", "RELOADING=1", "STATUS=…") sent
// as datagrams to the socket named by $NOTIFY_SOCKET. Without that variable it does
// nothing, so the master calls it unconditionally.
#pragma once

#include <string_view>

namespace sluice::notify {

// Sends `state` (newline-separated assignments); false if $NOTIFY_SOCKET is set and the
// send failed.
bool send(std::string_view state);

}  // namespace sluice::notify
