// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title EvidenceAnchor
/// @notice Anchors the checkpoints (tree size, root hash) of one RFC 9162 Merkle log and accepts
///         only append-only extensions: every anchor after the first must carry an RFC 9162
///         section 2.1.4 consistency proof from the latest anchored checkpoint, verified here
///         with the SHA-256 precompile.
/// @dev Storage is kept minimal for gas: one slot holds the latest tree size and the latest root
///      is read from the per-size root mapping, so a steady-state anchor writes one new slot
///      (the root) and updates one (the size).
contract EvidenceAnchor {
    /// @notice Longest consistency proof accepted. For tree sizes below 2^64 a valid proof has at
    ///         most 64 path hashes plus one seed hash; anything longer cannot verify.
    uint256 public constant MAX_PROOF_LENGTH = 65;

    /// @notice The caller is not an authorized anchorer.
    error NotAnchorer(address caller);
    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The zero address cannot be an anchorer or the owner.
    error ZeroAddress();
    /// @notice A checkpoint of size 0 cannot be anchored.
    error EmptyTree();
    /// @notice The zero root is reserved for "nothing anchored".
    error ZeroRoot();
    /// @notice The proof has more entries than any valid proof can have.
    error ProofTooLong(uint256 length, uint256 maxLength);
    /// @notice The first anchor has nothing to be consistent with, so it takes an empty proof.
    error UnexpectedProof(uint256 length);
    /// @notice The tree size does not grow past the latest anchored size.
    error SizeNotGrowing(uint64 latest, uint64 given);
    /// @notice This exact checkpoint is already anchored (a duplicate submission).
    error AlreadyAnchored(uint64 treeSize, bytes32 rootHash);
    /// @notice A different root is already anchored for this tree size: the log forked.
    error RootMismatch(uint64 treeSize, bytes32 anchoredRoot, bytes32 givenRoot);
    /// @notice The consistency proof does not link the latest anchored checkpoint to the new one.
    error InvalidConsistencyProof();

    /// @notice A checkpoint was anchored; previousSize and previousRoot are 0 for the first one.
    event Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 previousSize, bytes32 previousRoot);
    event AnchorerAdded(address indexed anchorer);
    event AnchorerRemoved(address indexed anchorer);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    address private _owner;
    uint64 private _latestSize;
    mapping(address anchorer => bool) private _anchorers;
    mapping(uint64 treeSize => bytes32 rootHash) private _roots;

    constructor() {
        _owner = msg.sender;
        _anchorers[msg.sender] = true;
        emit OwnershipTransferred(address(0), msg.sender);
        emit AnchorerAdded(msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != _owner) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Anchors the checkpoint (treeSize, rootHash).
    /// @param consistencyProof RFC 9162 section 2.1.4.1 PROOF(latest size, D[treeSize]); empty
    ///        for the first anchor.
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external {
        if (!_anchorers[msg.sender]) revert NotAnchorer(msg.sender);
        if (treeSize == 0) revert EmptyTree();
        if (rootHash == bytes32(0)) revert ZeroRoot();

        uint64 previousSize = _latestSize;
        bytes32 previousRoot;
        uint256 proofLength = consistencyProof.length;
        if (previousSize == 0) {
            if (proofLength != 0) revert UnexpectedProof(proofLength);
        } else {
            if (treeSize <= previousSize) {
                bytes32 anchored = _roots[treeSize];
                if (anchored == rootHash) revert AlreadyAnchored(treeSize, rootHash);
                if (anchored != bytes32(0)) revert RootMismatch(treeSize, anchored, rootHash);
                revert SizeNotGrowing(previousSize, treeSize);
            }
            if (proofLength > MAX_PROOF_LENGTH) revert ProofTooLong(proofLength, MAX_PROOF_LENGTH);
            previousRoot = _roots[previousSize];
            if (!_verifyConsistency(previousSize, treeSize, previousRoot, rootHash, consistencyProof)) {
                revert InvalidConsistencyProof();
            }
        }

        _roots[treeSize] = rootHash;
        _latestSize = treeSize;
        emit Anchored(treeSize, rootHash, previousSize, previousRoot);
    }

    /// @notice The latest anchored checkpoint; (0, 0x0) before the first anchor.
    function latest() external view returns (uint64, bytes32) {
        uint64 size = _latestSize;
        return (size, _roots[size]);
    }

    /// @notice The root anchored for exactly this tree size, 0x0 if none.
    function rootAt(uint64 treeSize) external view returns (bytes32) {
        return _roots[treeSize];
    }

    function owner() external view returns (address) {
        return _owner;
    }

    function isAnchorer(address account) external view returns (bool) {
        return _anchorers[account];
    }

    /// @notice Authorizes an anchorer; a no-op (no event) if it already is one.
    function addAnchorer(address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (_anchorers[account]) return;
        _anchorers[account] = true;
        emit AnchorerAdded(account);
    }

    /// @notice Revokes an anchorer; a no-op (no event) if it is not one.
    function removeAnchorer(address account) external onlyOwner {
        if (!_anchorers[account]) return;
        _anchorers[account] = false;
        emit AnchorerRemoved(account);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(_owner, newOwner);
        _owner = newOwner;
    }

    /// @dev RFC 9162 section 2.1.4.2, step by step. Requires 0 < first < second.
    function _verifyConsistency(
        uint256 first,
        uint256 second,
        bytes32 firstHash,
        bytes32 secondHash,
        bytes32[] calldata path
    ) private view returns (bool) {
        // 1. An empty consistency_path fails.
        uint256 len = path.length;
        if (len == 0) return false;
        // 2. If first is an exact power of 2, prepend first_hash to the path; 5. set fr and sr to
        //    the path's first value. Prepending is modelled by starting at path[0] instead of 1.
        bytes32 fr;
        uint256 i;
        if (first & (first - 1) == 0) {
            fr = firstHash;
        } else {
            fr = path[0];
            i = 1;
        }
        bytes32 sr = fr;
        // 3. fn = first - 1, sn = second - 1.
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        // 4. If LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        // 6. For each subsequent value c in the path.
        unchecked {
            for (; i < len; ++i) {
                if (sn == 0) return false;
                bytes32 c = path[i];
                if (fn & 1 == 1 || fn == sn) {
                    fr = _nodeHash(c, fr);
                    sr = _nodeHash(c, sr);
                    if (fn & 1 == 0) {
                        while (fn & 1 == 0 && fn != 0) {
                            fn >>= 1;
                            sn >>= 1;
                        }
                    }
                } else {
                    sr = _nodeHash(sr, c);
                }
                fn >>= 1;
                sn >>= 1;
            }
        }
        // 7. fr must equal first_hash, sr second_hash, and sn must be 0.
        return fr == firstHash && sr == secondHash && sn == 0;
    }

    /// @dev RFC 9162 node hash: SHA-256(0x01 || left || right), via the SHA-256 precompile (0x02).
    ///      The 65-byte preimage is written past the free memory pointer without allocating.
    function _nodeHash(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }
}
